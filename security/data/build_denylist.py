"""Rebuild ``common-passwords.txt.gz``: the 30,000 most common passwords of the zxcvbn project's ``passwords`` list
(itself ranked from public breach corpora), lower-cased, de-duplicated, in rank order.

    uv run --with zxcvbn==4.5.0 python -m security.data.build_denylist
"""

from __future__ import annotations

import gzip
from pathlib import Path

OUT = Path(__file__).with_name("common-passwords.txt.gz")


def main() -> None:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    seen: dict[str, None] = {}
    for word in FREQUENCY_LISTS["passwords"]:
        seen.setdefault(word.strip().lower(), None)
    text = "\n".join(w for w in seen if w) + "\n"
    # mtime=0 keeps the file byte-for-byte reproducible.
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as out:
        out.write(text.encode())
    print(f"{len(seen)} entries written to {OUT.name}")


if __name__ == "__main__":
    main()
