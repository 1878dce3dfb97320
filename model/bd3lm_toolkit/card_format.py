"""Formatting helpers of the demo cards (token counts, learning rates, noise intervals) and the command lines
that reproduce the run, rebuilt from the recorded arguments against the `gpu_demo` and `train` parsers."""
from __future__ import annotations

import argparse
from typing import Dict, List, Optional

from .card_data import PACKAGES


def mtok(n: float) -> str:
    return f"{n / 1e6:.1f}M"


def lr_text(lr: float) -> str:
    """2.5e-3, 8e-4: the way the learning rates are written on the command line."""
    m, e = f"{lr:e}".split("e")
    return f"{float(m):g}e{int(e)}"


def interval(iv) -> str:
    lo, hi = iv
    return f"U[{'1e-3' if abs(lo - 1e-3) < 1e-9 else f'{lo:g}'}, {hi:g}]"


def command_line(prog: str, parser: argparse.ArgumentParser, recorded: Dict, replace: Dict[str, Optional[str]],
                 always: tuple = ()) -> str:
    """The command line that gives `recorded` (an args record from a log): every option whose recorded value differs
    from the parser's default (and those in `always`), in the parser's order. `replace` maps dest -> placeholder
    (None drops the option: for values the program derives itself when the option is not given)."""
    parts = [prog]
    for act in parser._actions:
        if not act.option_strings or act.dest == "help" or act.dest not in recorded:
            continue
        val = recorded[act.dest]
        if act.dest in replace:
            if replace[act.dest] is None:
                continue
            val = replace[act.dest]
        elif val == act.default and act.dest not in always:
            continue
        flag = act.option_strings[-1] if act.dest == "data_dir" else act.option_strings[0]
        if isinstance(act, argparse._StoreTrueAction):
            if val:
                parts.append(flag)
            continue
        text = f"{val:g}" if isinstance(val, float) else str(val)
        parts.append(f"{flag} {text}")
    return " ".join(parts)


def reproduce_commands(tr: Dict) -> List[str]:
    from .gpu_demo import build_parser as gpu_demo_parser
    from .train import build_parser as train_parser

    res = tr["results"]
    lines = [
        "PYTHONPATH=model " + command_line("python3 -m bd3lm_toolkit.gpu_demo", gpu_demo_parser(), res["args"],
                                           # total_minutes and threads: derived from the others when not given
                                           {"data": "kjv.txt.xz", "out": "OUT", "total_minutes": None, "threads": None},
                                           always=("minutes_ar", "minutes_bd3")),
    ]
    for L in PACKAGES:
        rec = tr["cont"][L]["start"]["args"]
        lines.append("PYTHONPATH=model " + command_line(
            "python3 -m bd3lm_toolkit.train", train_parser(), rec,
            {"out": f"C{L}", "init_from": f"OUT/b{L}/checkpoint", "data_dir": "kjv.txt.xz", "stop_at": None}) + " &")
    lines.append("wait")
    return lines
