"""Boards finn_flow can target: FINN's part numbers plus device capacities for the build summary.

Part numbers come from finn-plus (``finn.util.basic.part_map``: Zynq/PYNQ boards and Alveo cards).
Capacities (LUT, BRAM36, URAM, DSP) are from the Xilinx product tables, for the summary only; a board
FINN knows but we have no capacity for still builds, its summary just shows no percentages.
"""

from __future__ import annotations

from dataclasses import dataclass

from finn_flow.errors import UnknownBoardError

# part -> (LUT, BRAM36, URAM, DSP)
_CAPACITY = {
    "xc7z020clg400-1": (53_200, 140, 0, 220),
    "xczu3eg-sbva484-1-e": (70_560, 216, 0, 360),
    "xczu3eg-sbva484-1-i": (70_560, 216, 0, 360),
    "xczu7ev-ffvc1156-2-e": (230_400, 312, 96, 1_728),
    "xczu9eg-ffvb1156-2-e": (274_080, 912, 0, 2_520),
    "xczu28dr-ffvg1517-2-e": (425_280, 1_080, 80, 4_272),
    "xcu250-figd2104-2L-e": (1_728_000, 2_688, 1_280, 12_288),
    "xcu200-fsgd2104-2-e": (1_182_240, 2_160, 960, 6_840),
    "xcu280-fsvh2892-2L-e": (1_303_680, 2_016, 960, 9_024),
    "xcu50-fsvh2104-2L-e": (872_000, 1_344, 640, 5_952),
}


@dataclass(frozen=True)
class Board:
    """A FINN target board: name, FPGA part, whether it is an Alveo (Vitis) card, capacity or None."""

    name: str
    part: str
    alveo: bool
    lut: int | None
    bram36: int | None
    uram: int | None
    dsp: int | None


def known_boards() -> dict[str, str]:
    """Board name -> FPGA part, as finn-plus knows them."""
    from finn.util.basic import alveo_part_map, pynq_part_map

    return {**pynq_part_map, **alveo_part_map}


def resolve_board(name: str) -> Board:
    """Look ``name`` up among FINN's boards (exact spelling, e.g. ``"Pynq-Z1"``, ``"ZCU104"``, ``"U250"``).

    Raises:
        UnknownBoardError: naming the value received and the boards allowed.
    """
    from finn.util.basic import alveo_part_map

    boards = known_boards()
    if not isinstance(name, str) or name not in boards:
        raise UnknownBoardError(f"board={name!r} is not a FINN board; allowed: {', '.join(sorted(boards))}")
    part = boards[name]
    cap = _CAPACITY.get(part, (None, None, None, None))
    return Board(name, part, name in alveo_part_map, *cap)
