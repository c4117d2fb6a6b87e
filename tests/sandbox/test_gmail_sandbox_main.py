"""``python -m sandbox.gmail``: serves until SIGTERM and prints how to connect."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests

from sandbox.gmail.__main__ import build_parser


def test_parser_defaults() -> None:
    args = build_parser().parse_args([])
    assert (args.port, args.seed, args.quota) == (12114, 42, 250)


def test_standalone_serves_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.gmail", "--port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(6)]
        base_url = lines[0].split(": ", 1)[1].strip()
        settings = dict(line.strip().split("=", 1) for line in lines[1:])
        form = {
            "grant_type": "refresh_token",
            "client_id": settings["SOURCES__GMAIL__CREDENTIALS__CLIENT_ID"],
            "client_secret": settings["SOURCES__GMAIL__CREDENTIALS__CLIENT_SECRET"],
            "refresh_token": settings["SOURCES__GMAIL__CREDENTIALS__REFRESH_TOKEN"],
        }
        token_url = settings["SOURCES__GMAIL__CREDENTIALS__TOKEN_URL"]
        access = requests.post(token_url, data=form, timeout=5).json()["access_token"]
        profile = requests.get(
            base_url + "gmail/v1/users/me/profile",
            headers={"Authorization": f"Bearer {access}"},
            timeout=5,
        )
        assert profile.status_code == 200 and profile.json()["messagesTotal"] > 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
