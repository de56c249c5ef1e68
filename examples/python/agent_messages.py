#!/usr/bin/env python3
"""An application in Python that uses keyorch through agents: it seals a message through one
party's `keyorch agent` and opens it through the other party's, and shows how a refusal reads.

Standard library only (urllib). Usage:

    agent_messages.py STREAM SEALER_URL SEALER_TOKEN_FILE OPENER_URL OPENER_TOKEN_FILE MESSAGE

STREAM is the stream id (0x and 64 hex digits); each URL is an agent's (http://127.0.0.1:8710
by default), each token file the one that agent wrote. Prints one JSON object: the epoch the
message was sealed under, the message as opened, and the reason the opener gave for a copy
sent with other associated data. Exit code 0, or 1 with the agent's problem on stderr.
"""

import base64
import json
import sys
import urllib.error
import urllib.request


class AgentError(Exception):
    """An agent's refusal: its RFC 9457 problem details."""

    def __init__(self, problem):
        super().__init__(f"{problem.get('status')} {problem.get('reason')}: {problem.get('detail')}")
        self.problem = problem


class Agent:
    """One party's agent: its URL and bearer token."""

    def __init__(self, url, token_file):
        self.url = url.rstrip("/")
        with open(token_file, encoding="ascii") as file:
            self.token = file.read().strip()

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=90) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.headers.get_content_type() == "application/problem+json":
                raise AgentError(json.load(error)) from None
            raise AgentError({"status": error.code, "reason": "http", "detail": error.reason}) from None

    def seal(self, stream, plaintext, aad=b""):
        body = {"plaintext": base64.b64encode(plaintext).decode(), "aad": base64.b64encode(aad).decode()}
        return self.call("POST", f"/v1/streams/{stream}/seal", body)

    def open(self, stream, message, aad=b""):
        body = {"message": message, "aad": base64.b64encode(aad).decode()}
        answer = self.call("POST", f"/v1/streams/{stream}/open", body)
        return answer["epoch"], base64.b64decode(answer["plaintext"])


def main(argv):
    if len(argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    stream, sealer_url, sealer_token, opener_url, opener_token, text = argv[1:]
    sealer, opener = Agent(sealer_url, sealer_token), Agent(opener_url, opener_token)
    aad = b"python example"
    try:
        sealed = sealer.seal(stream, text.encode(), aad)
        epoch, opened = opener.open(stream, sealed["message"], aad)
        try:
            opener.open(stream, sealed["message"], b"other associated data")
            refused = None
        except AgentError as error:
            refused = error.problem["reason"]
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"epoch": epoch, "opened": opened.decode(), "other_aad_refused": refused}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
