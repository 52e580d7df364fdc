"""Seconds to escape 10 MB of hostile text with each escaping function (linear time expected)."""
from __future__ import annotations

import time


def main() -> dict:
    from bot.render.escape import remarkup_inline, remarkup_quote, wikitext_block, wikitext_inline

    chunk = ("{{x}}~~~~[[a|b]]__NOTOC__'''b''' @u T1 #t `c` **b** http://x "
             "deadbeef1 <ref>\n* \u202e\u200d\udc80 ")
    inputs = {"mixed payloads": chunk * (10_000_000 // len(chunk)), "underscores": "_" * 10_000_000,
              "braces": "{" * 10_000_000, "digits": "1" * 10_000_000}
    results = {}
    print(f"{'function':18} {'input (10 MB)':16} {'seconds':>8}")
    for fn in (wikitext_inline, wikitext_block, remarkup_inline, remarkup_quote):
        for label, text in inputs.items():
            if label != "mixed payloads" and fn in (wikitext_block, remarkup_quote):
                continue
            start = time.perf_counter()
            fn(text)
            seconds = time.perf_counter() - start
            results[(fn.__name__, label)] = seconds
            print(f"{fn.__name__:18} {label:16} {seconds:8.2f}")
    return results


if __name__ == "__main__":
    main()
