"""Reads `strace -f -e trace=connect,openat,...` output: which hosts a process tree tried to reach and
which files it opened for writing. Used by the egress tests and `make egress-check`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

TRACED_CALLS = "connect,openat,open,creat,mkdir,rename,renameat,renameat2,unlink,unlinkat"

_CONNECT = re.compile(r"\bconnect\(\d+, \{sa_family=(AF_\w+)(.*?)\}")
_IPV4 = re.compile(r'inet_addr\("([^"]+)"\)')
_IPV6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')
_PORT = re.compile(r"htons\((\d+)\)")
_OPEN_FOR_WRITE = re.compile(r'\b(?:openat|open)\((?:\w+, )?"([^"]+)", ([A-Z_|]+)')
_PATH_CHANGE = re.compile(r'\b(?:creat|mkdir|rename|renameat2?|unlink|unlinkat)\((?:\w+, )?"([^"]+)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


@dataclass
class SyscallReport:
    """Connections other than loopback and unix sockets, and every path written (absolute)."""

    remote: list[str] = field(default_factory=list)  # "host:port"
    loopback: int = 0
    unix: int = 0
    written: set[str] = field(default_factory=set)

    def written_outside(self, allowed_roots: list[Path]) -> list[str]:
        """Written paths that are under none of `allowed_roots`."""
        roots = [str(r.resolve()) for r in allowed_roots]
        return sorted(p for p in self.written if not any(p == r or p.startswith(r + "/") for r in roots))


def read_trace(path: Path, cwd: Path) -> SyscallReport:
    """Parse one strace output file; relative paths are taken relative to `cwd`."""
    report = SyscallReport()
    for line in path.read_text(errors="replace").splitlines():
        if line.rstrip().endswith("= -1 ENOENT (No such file or directory)"):
            continue  # a probe for a file that is not there wrote nothing
        connect = _CONNECT.search(line)
        if connect:
            family, rest = connect.groups()
            host_match = _IPV4.search(rest) or _IPV6.search(rest)
            if family == "AF_UNIX":
                report.unix += 1
            elif family in ("AF_INET", "AF_INET6") and host_match:
                host = host_match.group(1)
                if host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1"):
                    report.loopback += 1
                else:
                    port = _PORT.search(rest)
                    report.remote.append(f"{host}:{port.group(1) if port else '?'}")
            elif family not in ("AF_NETLINK",):
                report.remote.append(f"{family}{rest[:60]}")
            continue
        opened = _OPEN_FOR_WRITE.search(line)
        if opened and any(flag in opened.group(2) for flag in _WRITE_FLAGS):
            report.written.add(_absolute(opened.group(1), cwd))
            continue
        changed = _PATH_CHANGE.search(line)
        if changed:
            report.written.add(_absolute(changed.group(1), cwd))
    return report


def _absolute(path: str, cwd: Path) -> str:
    return str((cwd / path).resolve()) if not path.startswith("/") else str(Path(path).resolve())
