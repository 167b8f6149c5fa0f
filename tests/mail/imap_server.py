"""A small IMAP4rev1 server on 127.0.0.1 for the poller's tests: one mailbox, plain LOGIN.

It speaks just the commands a polling client needs (CAPABILITY, LOGIN, SELECT, UID SEARCH,
UID FETCH, UID STORE, LOGOUT) with real IMAP framing (tagged responses, literals), so the
poller runs against the standard library's imaplib unchanged.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field


@dataclass
class Mailbox:
    """Messages by UID with their \\Seen flag."""

    user: str
    password: str
    messages: dict[int, bytes] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)

    def add(self, raw: bytes) -> int:
        uid = max(self.messages, default=0) + 1
        self.messages[uid] = raw
        return uid


class _Handler(socketserver.StreamRequestHandler):
    box: Mailbox

    def send(self, line: str | bytes) -> None:
        self.wfile.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")

    def handle(self) -> None:
        self.send("* OK test IMAP4rev1 ready")
        authed = False
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            tag, _, rest = raw.decode().rstrip("\r\n").partition(" ")
            cmd, _, args = rest.partition(" ")
            cmd = cmd.upper()
            if cmd == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1")
                self.send(f"{tag} OK CAPABILITY completed")
            elif cmd == "LOGIN":
                user, password = (a.strip('"') for a in args.split(" ", 1))
                authed = (user, password) == (self.box.user, self.box.password)
                self.send(f"{tag} {'OK' if authed else 'NO'} LOGIN")
            elif not authed and cmd != "LOGOUT":
                self.send(f"{tag} NO not authenticated")
            elif cmd == "SELECT":
                self.send(f"* {len(self.box.messages)} EXISTS")
                self.send("* FLAGS (\\Seen)")
                self.send(f"{tag} OK [READ-WRITE] SELECT completed")
            elif cmd == "UID":
                self.uid_command(tag, args)
            elif cmd == "LOGOUT":
                self.send("* BYE bye")
                self.send(f"{tag} OK LOGOUT completed")
                return
            else:
                self.send(f"{tag} BAD unknown command")

    def uid_command(self, tag: str, args: str) -> None:
        sub, _, rest = args.partition(" ")
        sub = sub.upper()
        if sub == "SEARCH":
            uids = [u for u in sorted(self.box.messages) if u not in self.box.seen]
            self.send("* SEARCH" + "".join(f" {u}" for u in uids))
        elif sub == "FETCH":
            uid = int(rest.split(" ", 1)[0])
            raw = self.box.messages[uid]
            self.send(f"* {uid} FETCH (UID {uid} BODY[] {{{len(raw)}}}".encode() + b"\r\n" + raw)
            self.send(")")
        elif sub == "STORE":
            uid = int(rest.split(" ", 1)[0])
            if re.search(r"\\Seen", rest):
                self.box.seen.add(uid)
            self.send(f"* {uid} FETCH (UID {uid} FLAGS (\\Seen))")
        self.send(f"{tag} OK UID {sub} completed")


class ImapServer:
    """Serve ``box`` on a free port in a thread."""

    def __init__(self, box: Mailbox) -> None:
        handler = type("Handler", (_Handler,), {"box": box})
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Shut down."""
        self.server.shutdown()
        self.server.server_close()
