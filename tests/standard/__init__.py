"""Standard tests every connector passes, one declaration per connector (``connectors.py``)."""
