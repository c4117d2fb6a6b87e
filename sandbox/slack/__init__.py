"""A local emulator of the Slack Web API and Events API sender (``server.py``).

Deviations from /tmp/prompts/contract_slack.md, both to follow Slack itself:

- conversations.members is Tier 4 (100/min), not Tier 2: its "Facts" say "Tier 4: 100+
  per minute" (hex.pm slack_kit priv/docs/methods/conversations.members.json).
- The private channel the bot is not in (``#leadership``) is invisible to the bot token, as
  on Slack: not in conversations.list, ``channel_not_found`` on history. ``not_in_channel``
  comes from the public channel the bot was never invited to (``#design-reviews``).
  ``store.channels()`` is what the bot sees; ``store.all_channels()`` includes the hidden one.
- Deleting or archiving a private channel emits ``group_deleted`` / ``group_archive``.

Additions: ``faults.revoke_after(n)`` (token revoked mid-sync), ``faults.after_requests(n,
action)`` (change data between pages), ``sb.deactivate_account()``, ``store.all_channels()``,
``stats.calls(method)`` (arguments of every request: spot a page read twice).
"""

from .clock import RunningClock
from .faults import Faults
from .seed import ChannelPlan, Volume
from .server import SlackSandbox

__all__ = ["ChannelPlan", "Faults", "RunningClock", "SlackSandbox", "Volume"]
