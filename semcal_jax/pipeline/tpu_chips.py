"""Cloud TPU chips and slice names, for planning memory and speed.

`CHIPS` holds the figures of one chip of each generation, as Google's Cloud
TPU documentation gives them (the page of each is in the comment next to it).
`parse_slice("v5e-16")` turns an accelerator type into a `Slice`: the number
in a name counts chips for v5e and v6e, and TensorCores (two per chip) for v4
and v5p, so `v4-32` is 16 chips and `v5p-64` is 32 chips.
"""

from __future__ import annotations

import dataclasses
import re

GIB = 1 << 30


@dataclasses.dataclass(frozen=True)
class Chip:
  """One TPU chip.

  Attributes:
    name: generation ("v4", "v5e", "v5p", "v6e").
    hbm_bytes: high-bandwidth memory per chip.
    hbm_bytes_per_s: HBM bandwidth per chip.
    bf16_flops: peak bf16 FLOP/s per chip.
    chips_per_host: chips of one TPU VM host in a multi-host slice.
    cores_per_chip: TensorCores per chip (what the slice name counts for v4 / v5p).
    single_host_chips: the largest slice that is one host (v5e / v6e: an 8-chip VM).
  """
  name: str
  hbm_bytes: float
  hbm_bytes_per_s: float
  bf16_flops: float
  chips_per_host: int
  cores_per_chip: int
  single_host_chips: int


CHIPS = {
    # https://cloud.google.com/tpu/docs/v4: 32 GiB HBM2, 1200 GBps, 275 TFLOPs; 4 chips per host.
    "v4": Chip("v4", 32 * GIB, 1200e9, 275e12, 4, 2, 4),
    # https://cloud.google.com/tpu/docs/v5e: 16 GiB HBM2, 819 GBps, 197 TFLOPs; TPU VMs of
    # 1, 4 or 8 chips: up to 8 chips are one VM, larger slices are VMs of 4 chips.
    "v5e": Chip("v5e", 16 * GIB, 819e9, 197e12, 4, 1, 8),
    # https://cloud.google.com/tpu/docs/v5p: 95 GB HBM2e, 2765 GBps, 459 TFLOPs; 4 chips per host.
    "v5p": Chip("v5p", 95e9, 2765e9, 459e12, 4, 2, 4),
    # https://cloud.google.com/tpu/docs/v6e: 32 GB HBM, 1638 GBps, 918 TFLOPs; like v5e, an
    # 8-chip VM or, in larger slices, VMs of 4 chips.
    "v6e": Chip("v6e", 32e9, 1638e9, 918e12, 4, 1, 8),
}
# Other spellings of a generation in accelerator types and docs.
ALIASES = {"v5litepod": "v5e", "v5lite": "v5e", "trillium": "v6e", "v6litepod": "v6e"}


@dataclasses.dataclass(frozen=True)
class Slice:
  """A slice of `chips` chips of one generation."""
  name: str
  chip: Chip
  chips: int

  @property
  def chips_per_host(self) -> int:
    """Chips one host holds (all of them on a single-host slice)."""
    if self.chips <= self.chip.single_host_chips:
      return self.chips
    return self.chip.chips_per_host

  @property
  def hosts(self) -> int:
    return -(-self.chips // self.chips_per_host)


def parse_slice(name: str) -> Slice:
  """`"v5e-16"`, `"v5litepod-16"`, `"v4-32"`, `"v5p-64"`, `"v6e-8"` -> Slice.

  Raises ValueError (one line naming the value) for an unknown generation or a
  count that is not a whole number of chips.
  """
  match = re.fullmatch(r"([a-z0-9]+)-(\d+)", name.strip().lower())
  known = ", ".join(sorted(CHIPS) + sorted(ALIASES))
  if not match:
    raise ValueError(f"slice {name!r}: expected <generation>-<count>, e.g. v5e-16 "
                     f"(generations: {known})")
  gen, count = ALIASES.get(match.group(1), match.group(1)), int(match.group(2))
  if gen not in CHIPS:
    raise ValueError(f"slice {name!r}: unknown TPU generation {match.group(1)!r}; known: {known}")
  chip = CHIPS[gen]
  if count < 1 or count % chip.cores_per_chip:
    raise ValueError(f"slice {name!r}: {gen} slice names count TensorCores "
                     f"({chip.cores_per_chip} per chip); got {count}")
  return Slice(name=name, chip=chip, chips=count // chip.cores_per_chip)
