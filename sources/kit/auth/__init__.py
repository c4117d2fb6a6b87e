"""Authentication flows every sluice connector picks from by configuration.

All flows are ``requests.auth.AuthBase`` subclasses: pass one to dlt's
``RESTClient(auth=...)`` or to ``requests`` directly. None shows a secret in its
``repr()``, and every secret they hold is registered with the global redactor.
"""

from .cached_bearer import CachedBearerAuth
from .hmac_signing import HmacRequestSigner, OAuth1HmacSha256
from .jwt_bearer import JWT_BEARER_GRANT, OAuth2JwtBearer
from .messages import OAuthRejection, ProviderLabel
from .oauth1_base_string import percent_encode, signature_base_string
from .oauth2 import OAuth2ClientCredentials, OAuth2RefreshToken
from .password_grant import OAuth2PasswordGrant
from .static import ApiKeyAuth, BasicAuth, BearerAuth
from .token_endpoint import TokenEndpoint, TokenRetry
from .tokens import FileTokenStore, MemoryTokenStore, Token, TokenStore

__all__ = [
    "JWT_BEARER_GRANT",
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "CachedBearerAuth",
    "FileTokenStore",
    "HmacRequestSigner",
    "MemoryTokenStore",
    "OAuth1HmacSha256",
    "OAuth2ClientCredentials",
    "OAuth2JwtBearer",
    "OAuth2PasswordGrant",
    "OAuth2RefreshToken",
    "OAuthRejection",
    "ProviderLabel",
    "Token",
    "TokenEndpoint",
    "TokenRetry",
    "TokenStore",
    "percent_encode",
    "signature_base_string",
]
