"""DRAM standards by name: organisation, JEDEC-style timings and energies, each set cited.

A hardware description that names ``dram.standard = "ddr4-3200"`` gets every key below
as its default; any key it sets itself wins. Values are written as the TOML would write
them (strings with units) and go through the same parser and checks as a user's file.

Timings are given in ns, converted from the cited configuration's clock counts (nCK x
tCK; the count is in the comment). Bank groups: ``tCCD``, ``tRRD`` and ``tWTR`` are the
different-bank-group values (``_S``), ``tCCD_L``, ``tRRD_L`` and ``tWTR_L`` the same-group
ones; a standard without bank groups (LPDDR4, DDR3) has ``bank_groups = 1`` and its
``_L`` values equal the plain ones. ``tRTW`` (read to write command, same rank) is not a
datasheet parameter: it is the minimum gap the cited simulator derives, written out
beside each value (DRAMsim3: RL + BL/2 - WL + tRPRE + tRTRS).

Energies: every timed standard carries an IDD set (``vdd``, ``idd0`` ... ``idd5ab`` per
device, ``device_width``; the source beside each), from which the description derives
ACT, read and write energy, background and refresh power the way DRAMsim3 does
(:class:`IddModel`; Micron TN-41-01). They cover the DRAM core only, not the I/O.
Accelergy's all-in pJ/bit (accelsim.hw.energy.DRAM_ENERGY_PER_BIT) is what a description
gets by setting ``read_energy``/``write_energy`` itself (docs/hardware.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

DRAMSIM3 = "DRAMsim3 (umd-memsys/DRAMsim3) configs"
IDEAL = "ideal"


@dataclass(frozen=True)
class DramStandard:
    """Defaults for one DRAM standard: TOML keys -> TOML values, and where they come from."""

    name: str
    source: str
    values: Mapping[str, Any]


# The keys of an IDD set (docs/hardware.md): a description that gives one gives them all.
IDD_KEYS = ("vdd", "idd0", "idd2n", "idd3n", "idd4r", "idd4w", "idd5ab", "device_width")


@dataclass(frozen=True)
class IddModel:
    """DRAMsim3's energy model (configuration.cc InitPowerParams, after Micron TN-41-01):
    datasheet currents per device (mA) at ``vdd`` (V), times in seconds, and the rank's
    ``devices`` (bus width / device width) that draw them together."""

    vdd: float
    idd0: float
    idd2n: float
    idd3n: float
    idd4r: float
    idd4w: float
    idd5ab: float
    devices: int
    tck_s: float
    tras_s: float
    trp_s: float
    trfc_s: float
    trefi_s: float
    burst_length: int
    bus_width_bits: int

    @property
    def burst_ns(self) -> float:
        """A burst holds the data bus BL / 2 clocks (double data rate)."""
        return self.burst_length / 2 * self.tck_s * 1e9

    def act_energy_pj(self) -> float:
        """One ACT-PRE pair: VDD * (IDD0*tRC - (IDD3N*tRAS + IDD2N*tRP)) per device."""
        tras, trp = self.tras_s * 1e9, self.trp_s * 1e9
        charge = self.idd0 * (tras + trp) - (self.idd3n * tras + self.idd2n * trp)
        return self.vdd * charge * self.devices  # mA * V * ns = pJ

    def burst_energy_pj_per_bit(self, idd4: float) -> float:
        """One burst above active standby: VDD * (IDD4 - IDD3N) * tBURST, per bit moved."""
        energy = self.vdd * (idd4 - self.idd3n) * self.burst_ns * self.devices
        return energy / (self.bus_width_bits * self.burst_length)

    def background_power_w(self) -> float:
        """Active standby of one rank: VDD * IDD3N (open-page: a bank is usually open)."""
        return self.vdd * self.idd3n * self.devices * 1e-3

    def refresh_power_w(self) -> float:
        """Refresh above standby of one rank: VDD * (IDD5AB - IDD3N) * tRFC / tREFI."""
        duty = self.trfc_s / self.trefi_s
        return self.vdd * (self.idd5ab - self.idd3n) * duty * self.devices * 1e-3

    def energies(self) -> dict[str, float]:
        """The description's energy fields (base units: pJ, pJ/bit, W) from the currents."""
        return {
            "read_energy_pj_per_bit": self.burst_energy_pj_per_bit(self.idd4r),
            "write_energy_pj_per_bit": self.burst_energy_pj_per_bit(self.idd4w),
            "act_energy_pj": self.act_energy_pj(),
            "pre_energy_pj": 0.0,  # IDD0's ACT-PRE cycle already covers the precharge
            "background_power_w": self.background_power_w(),
            "refresh_power_w": self.refresh_power_w(),
        }


def _ns(cycles: float, tck_ns: float) -> str:
    return f"{cycles * tck_ns:.6g} ns"


def _idd_keys(vdd: float, idd0: float, idd2n: float, idd3n: float, idd4r: float,
              idd4w: float, idd5ab: float, device_width: int) -> dict[str, str]:
    """An IDD set as TOML values: the description derives its energies from them."""
    currents = {"idd0": idd0, "idd2n": idd2n, "idd3n": idd3n, "idd4r": idd4r,
                "idd4w": idd4w, "idd5ab": idd5ab}
    return {"vdd": f"{vdd} V", **{key: f"{value} mA" for key, value in currents.items()},
            "device_width": f"{device_width} bit"}


# --- DDR4-3200: DRAMsim3 DDR4_8Gb_x8_3200.ini (JEDEC DDR4-3200AA 22-22-22), one x64 rank
_DDR4_3200_TCK = 0.625  # ns; 1600 MHz clock (DRAMsim3 rounds it to 0.63)
_DDR4_3200 = DramStandard(
    "ddr4-3200",
    f"{DRAMSIM3}/DDR4_8Gb_x8_3200.ini (JEDEC JESD79-4 DDR4-3200AA, 8 Gb x8, 8 chips); "
    "tRTW from JEDEC JESD79-4 (RL + BL/2 - WL + 2 nCK with 1 nCK preambles; DRAMsim3's "
    "timing.cc, RL + BL/2 - WL + tRTRS, gives 11 with the file's tRTRS 1); energies from its "
    "IDD currents (core only)",
    {
        "banks": 16,  # 4 bank groups x 4 banks
        "row_size": "8 KiB",  # 1024 columns x 8 bit x 8 chips
        "burst_length": 8,
        "bus_width": "64 bit",
        "data_rate": "3200 MT/s",
        "tCK": f"{_DDR4_3200_TCK} ns",
        "tCL": _ns(22, _DDR4_3200_TCK),  # CL = 22
        "tRCD": _ns(22, _DDR4_3200_TCK),  # 22 nCK = 13.75 ns
        "tRP": _ns(22, _DDR4_3200_TCK),
        "tRAS": _ns(52, _DDR4_3200_TCK),
        "tCCD": _ns(4, _DDR4_3200_TCK),  # tCCD_S
        "tRRD": _ns(4, _DDR4_3200_TCK),  # tRRD_S
        "tFAW": _ns(34, _DDR4_3200_TCK),
        "tWR": _ns(24, _DDR4_3200_TCK),
        "tRTP": _ns(12, _DDR4_3200_TCK),
        "tCWL": _ns(16, _DDR4_3200_TCK),  # CWL = 16
        "tWTR": _ns(4, _DDR4_3200_TCK),  # tWTR_S
        "tRTW": _ns(12, _DDR4_3200_TCK),  # RL 22 + BL/2 4 - WL 16 + 2
        "bank_groups": 4,
        "tCCD_L": _ns(8, _DDR4_3200_TCK),
        "tRRD_L": _ns(8, _DDR4_3200_TCK),
        "tWTR_L": _ns(12, _DDR4_3200_TCK),
        "tRFC": _ns(560, _DDR4_3200_TCK),  # 350 ns (8 Gb)
        "tREFI": _ns(12480, _DDR4_3200_TCK),  # 7.8 us
        # DRAMsim3 DDR4_8Gb_x8_3200.ini [power] (from the vendor datasheet), per x8 device
        **_idd_keys(vdd=1.2, idd0=57, idd2n=37, idd3n=52, idd4r=168, idd4w=150, idd5ab=250,
                    device_width=8),
    },
)

# --- DDR4-2400: DRAMsim3 DDR4_8Gb_x8_2400.ini (Micron MT40A1G8PM-083E, 16-16-16) --------
_DDR4_2400_TCK = 1 / 1.2  # ns; 1200 MHz clock
_DDR4_2400 = DramStandard(
    "ddr4-2400",
    f"{DRAMSIM3}/DDR4_8Gb_x8_2400_2.ini (Micron MT40A1G8PM-083E, DDR4-2400 16-16-16, 8 Gb "
    "x8, 8 chips); tRTP from JEDEC JESD79-4 (max(4 nCK, 7.5 ns)); tRTW from JEDEC JESD79-4 "
    "(RL + BL/2 - WL + 2 nCK); energies from its IDD currents",
    {
        "banks": 16,
        "row_size": "8 KiB",
        "burst_length": 8,
        "bus_width": "64 bit",
        "data_rate": "2400 MT/s",
        "tCK": _ns(1, _DDR4_2400_TCK),
        "tCL": _ns(16, _DDR4_2400_TCK),
        "tRCD": _ns(16, _DDR4_2400_TCK),
        "tRP": _ns(16, _DDR4_2400_TCK),
        "tRAS": _ns(39, _DDR4_2400_TCK),
        "tCCD": _ns(4, _DDR4_2400_TCK),  # tCCD_S
        "tRRD": _ns(4, _DDR4_2400_TCK),  # tRRD_S
        "tFAW": _ns(26, _DDR4_2400_TCK),
        "tWR": _ns(18, _DDR4_2400_TCK),  # 15 ns
        "tRTP": "7.5 ns",  # JEDEC max(4 nCK, 7.5 ns) (the DRAMsim3 file has 9 nCK)
        "tCWL": _ns(12, _DDR4_2400_TCK),  # CWL = 12
        "tWTR": _ns(3, _DDR4_2400_TCK),  # tWTR_S
        "tRTW": _ns(10, _DDR4_2400_TCK),  # RL 16 + BL/2 4 - WL 12 + 2
        "bank_groups": 4,
        "tCCD_L": _ns(6, _DDR4_2400_TCK),
        "tRRD_L": _ns(6, _DDR4_2400_TCK),
        "tWTR_L": _ns(9, _DDR4_2400_TCK),
        "tRFC": _ns(420, _DDR4_2400_TCK),  # 350 ns
        "tREFI": _ns(9360, _DDR4_2400_TCK),  # 7.8 us
        # DRAMsim3 DDR4_8Gb_x8_2400.ini [power] (Micron MT40A1G8PM-083E datasheet), per device
        **_idd_keys(vdd=1.2, idd0=48, idd2n=34, idd3n=43, idd4r=135, idd4w=123, idd5ab=250,
                    device_width=8),
    },
)

# --- LPDDR4 currents: DRAMsim3 LPDDR4_8Gb_x16_2400.ini [power] (from the vendor datasheet);
# DRAMsim3 (and so accelsim) takes one VDD for the core, LPDDR4's VDD2 rail
_LPDDR4_IDD = _idd_keys(vdd=1.2, idd0=80, idd2n=34, idd3n=47, idd4r=243, idd4w=228, idd5ab=280,
                        device_width=16)
_LPDDR4_2400_TCK = 1 / 1.2  # ns; 1200 MHz clock (DRAMsim3 writes tCK = 0.83)


def _burst_bits(vdd: float, idd3n: float, idd4: float, tck_ns: float) -> str:
    """An LPDDR4 BL16 burst's energy per bit: VDD * (IDD4 - IDD3N) * 8 tCK / (16 bit x 16)."""
    return f"{vdd * (idd4 - idd3n) * 8 * tck_ns / (16 * 16):.6g} pJ/bit"


_LPDDR4_2400_BIT = {"read": _burst_bits(1.2, 47, 243, _LPDDR4_2400_TCK),
                    "write": _burst_bits(1.2, 47, 228, _LPDDR4_2400_TCK)}

# --- LPDDR4-3200: Ramulator LPDDR4.h (LPDDR4_3200, LPDDR4_8Gb_x16; JESD209-4 core timings)
# Ramulator's convention: one 32-bit channel = two x16 dies in lockstep, 8 banks, 1 Ki
# columns per die row. Energy: IDD currents of the 2400 part (below).
_LPDDR4_TCK = 0.625  # ns; 1600 MHz clock
_LPDDR4_3200 = DramStandard(
    "lpddr4-3200",
    "Ramulator (CMU-SAFARI/ramulator) src/LPDDR4.h speed entry LPDDR4_3200, org "
    "LPDDR4_8Gb_x16, channel_width 32 (JEDEC JESD209-4); tRTW from Ramulator src/LPDDR4.cpp's "
    "RD-to-WR rank timing; energy from the IDD currents of DRAMsim3's "
    "LPDDR4_8Gb_x16_2400.ini (core only)",
    {
        "banks": 8,
        "row_size": "4 KiB",  # 1024 columns x 16 bit x 2 dies
        "burst_length": 16,  # BL16 (16n prefetch)
        "bus_width": "32 bit",
        "data_rate": "3200 MT/s",
        "tCK": f"{_LPDDR4_TCK} ns",
        "tCL": _ns(32, _LPDDR4_TCK),  # nCL = 29 + 3
        "tRCD": _ns(29, _LPDDR4_TCK),  # 18.125 ns
        "tRP": _ns(27, _LPDDR4_TCK),  # nRPpb
        "tRAS": _ns(68, _LPDDR4_TCK),
        "tCCD": _ns(8, _LPDDR4_TCK),
        "tRRD": _ns(16, _LPDDR4_TCK),  # 10 ns
        "tFAW": _ns(64, _LPDDR4_TCK),  # 40 ns
        "tWR": _ns(28, _LPDDR4_TCK),
        "tRTP": _ns(14, _LPDDR4_TCK),
        "tCWL": _ns(18, _LPDDR4_TCK),  # nCWL = 15 + 3 (Ramulator: "made up, half of CL")
        "tWTR": _ns(16, _LPDDR4_TCK),  # nWTR (Ramulator adds 1 nCK for the command)
        "tRTW": _ns(26, _LPDDR4_TCK),  # nCL + nBL + nDQSCK + 1 - nCWL = 32 + 8 + 3 + 1 - 18
        "bank_groups": 1,  # JESD209-4 LPDDR4 has no bank groups
        "tCCD_L": _ns(8, _LPDDR4_TCK),
        "tRRD_L": _ns(16, _LPDDR4_TCK),
        "tWTR_L": _ns(16, _LPDDR4_TCK),
        "tRFC": _ns(288, _LPDDR4_TCK),  # nRFCab, 8 Gb die: 180 ns
        "tREFI": _ns(6247, _LPDDR4_TCK),  # 3.9 us
        # No LPDDR4-3200 current set is sourced: DRAMsim3 LPDDR4_8Gb_x16_2400.ini [power]
        # (from the vendor datasheet), per x16 die. Burst currents grow with the data rate
        # while tBURST shrinks, so the burst energy per bit is the 2400 bin's (derived
        # below at its own clock), not the 2400 currents over a 3200 burst (0.75x it).
        **_LPDDR4_IDD,
        "read_energy": _LPDDR4_2400_BIT["read"],
        "write_energy": _LPDDR4_2400_BIT["write"],
    },
)

# --- LPDDR4-2400: DRAMsim3 LPDDR4_8Gb_x16_2400.ini, as that file has it: four x16 dies on
# a 64-bit bus, 8 banks in DRAMsim3's 2 bank groups of 4 (JESD209-4 LPDDR4 has none; the
# file's tCCD_L/tWTR_L/tRRD_L are kept so a matched comparison is matched), its tRFC and
# tREFI (325 ns, 7.2 us; JESD209-4 gives 280 ns and 3.9 us for an 8 Gb die)
_LPDDR4_2400 = DramStandard(
    "lpddr4-2400",
    f"{DRAMSIM3}/LPDDR4_8Gb_x16_2400.ini (8 Gb x16 dies, 4 on a 64-bit bus); tRTW from "
    "DRAMsim3's timing.cc (RL + BL/2 - WL + tRTRS); energies from its IDD currents (core only)",
    {
        "banks": 8,  # bankgroups 2 x banks_per_group 4
        "row_size": "8 KiB",  # 1024 columns x 16 bit x 4 dies
        "burst_length": 16,
        "bus_width": "64 bit",
        "data_rate": "2400 MT/s",
        "tCK": _ns(1, _LPDDR4_2400_TCK),
        "tCL": _ns(17, _LPDDR4_2400_TCK),
        "tRCD": _ns(15, _LPDDR4_2400_TCK),
        "tRP": _ns(15, _LPDDR4_2400_TCK),
        "tRAS": _ns(32, _LPDDR4_2400_TCK),
        "tCCD": _ns(4, _LPDDR4_2400_TCK),  # tCCD_S (a BL16 burst holds the bus 8 nCK anyway)
        "tRRD": _ns(8, _LPDDR4_2400_TCK),  # tRRD_S
        "tFAW": _ns(32, _LPDDR4_2400_TCK),
        "tWR": _ns(30, _LPDDR4_2400_TCK),
        "tRTP": _ns(12, _LPDDR4_2400_TCK),
        "tCWL": _ns(14, _LPDDR4_2400_TCK),  # CWL = 14
        "tWTR": _ns(8, _LPDDR4_2400_TCK),  # tWTR_S
        "tRTW": _ns(12, _LPDDR4_2400_TCK),  # 17 + 8 - 14 + tRTRS 1
        "bank_groups": 2,
        "tCCD_L": _ns(6, _LPDDR4_2400_TCK),
        "tRRD_L": _ns(8, _LPDDR4_2400_TCK),
        "tWTR_L": _ns(16, _LPDDR4_2400_TCK),
        "tRFC": _ns(392, _LPDDR4_2400_TCK),
        "tREFI": _ns(8660, _LPDDR4_2400_TCK),
        **_LPDDR4_IDD,
    },
)

# --- HBM2: DRAMsim3 HBM2_8Gb_x128.ini (2 Gb/s per pin, 8 x 128-bit channels) -------------
_HBM2_TCK = 1.0  # ns; 1 GHz clock
_HBM2 = DramStandard(
    "hbm2",
    f"{DRAMSIM3}/HBM2_8Gb_x128.ini (JEDEC JESD235 HBM2, 8 x 128-bit channels, 2 Gb/s/pin); "
    "tRTW RL + BL/2 - WL + 1 nCK read preamble + tRTRS 2 (DRAMsim3's default tRTRS; its "
    "timing.cc has no preamble term and gives 14); energies from its IDD "
    "currents (core only)",
    {
        "channels": 8,
        "banks": 16,  # 4 bank groups x 4 banks
        # Legacy mode (one 128-bit channel, JESD235): a 2 KiB page, as DRAMsim3 has it (its
        # 64 columns x 2 for the HBM prefetch, configuration.cc, x 128 bit). Pseudo-channel
        # mode is channels = 16, bus_width = "64 bit", row_size = "1 KiB" (JESD235A).
        "row_size": "2 KiB",
        "burst_length": 4,
        "bus_width": "128 bit",
        "data_rate": "2000 MT/s",
        "tCK": f"{_HBM2_TCK} ns",
        "tCL": _ns(14, _HBM2_TCK),
        "tRCD": _ns(14, _HBM2_TCK),  # tRCDRD
        "tRP": _ns(14, _HBM2_TCK),
        "tRAS": _ns(34, _HBM2_TCK),
        "tCCD": _ns(1, _HBM2_TCK),  # tCCD_S (a BL4 burst holds the bus 2 nCK anyway)
        "tRRD": _ns(4, _HBM2_TCK),  # tRRD_S
        "tFAW": _ns(30, _HBM2_TCK),
        "tWR": _ns(16, _HBM2_TCK),
        "tRTP": _ns(4, _HBM2_TCK),  # tRTP_S
        "tCWL": _ns(4, _HBM2_TCK),  # CWL = 4
        "tWTR": _ns(6, _HBM2_TCK),  # tWTR_S
        "tRTW": _ns(15, _HBM2_TCK),  # RL 14 + BL/2 2 - WL 4 + 1 nCK preamble + tRTRS 2
        "bank_groups": 4,
        "tCCD_L": _ns(2, _HBM2_TCK),
        "tRRD_L": _ns(6, _HBM2_TCK),
        "tWTR_L": _ns(8, _HBM2_TCK),
        "tRFC": _ns(260, _HBM2_TCK),
        "tREFI": _ns(3900, _HBM2_TCK),
        # DRAMsim3 HBM2_8Gb_x128.ini [power] (from the vendor datasheet), per 128-bit channel
        **_idd_keys(vdd=1.2, idd0=65, idd2n=40, idd3n=55, idd4r=390, idd4w=500, idd5ab=250,
                    device_width=128),
    },
)

# --- DDR3-1600: gem5 src/mem/DRAMInterface.py DDR3_1600_8x8 (Micron MT41J512M8, 11-11-11)
_DDR3_1600 = DramStandard(
    "ddr3-1600",
    "gem5 DRAMInterface.py DDR3_1600_8x8 (Micron MT41J512M8, DDR3-1600 11-11-11, 8 x8 "
    "chips, 2 ranks; tWTR 7.5 ns, read-to-write turnaround tRTW 2.5 ns after the burst); "
    "energies from its IDD currents (core only)",
    {
        "ranks": 2,
        "banks": 8,
        "row_size": "8 KiB",  # 1 KiB device row buffer x 8 chips
        "burst_length": 8,
        "bus_width": "64 bit",
        "data_rate": "1600 MT/s",
        "tCK": "1.25 ns",
        "tCL": "13.75 ns",
        "tRCD": "13.75 ns",
        "tRP": "13.75 ns",
        "tRAS": "35 ns",
        "tCCD": "5 ns",  # tBURST: 4 clocks for BL8
        "tRRD": "6 ns",
        "tFAW": "30 ns",  # tXAW with activation_limit = 4
        "tWR": "15 ns",
        "tRTP": "7.5 ns",
        "tCWL": "13.75 ns",  # gem5 gives no write latency for it: tCL, as before
        "tWTR": "7.5 ns",
        "tRTW": "7.5 ns",  # tBURST 5 ns + gem5's read-to-write bus turnaround tRTW 2.5 ns
        "bank_groups": 1,  # DDR3 has no bank groups
        "tCCD_L": "5 ns",
        "tRRD_L": "6 ns",
        "tWTR_L": "7.5 ns",
        "tRFC": "260 ns",
        "tREFI": "7.8 us",
        # gem5 DDR3_1600_8x8 (Micron MT41J512M8 datasheet, die rev E,J), per x8 device;
        # gem5's IDD5 is the all-bank refresh current
        **_idd_keys(vdd=1.5, idd0=55, idd2n=32, idd3n=38, idd4r=157, idd4w=125, idd5ab=235,
                    device_width=8),
    },
)

# --- ideal: SCALE-Sim's DRAM, a fixed number of words per array cycle, no timing ---------
_IDEAL = DramStandard(
    IDEAL,
    "SCALE-Sim's ideal DRAM: a fixed 'Bandwidth' in words per cycle; energy per bit from "
    "the energy table",
    {},
)

# Share of the peak bandwidth the bandwidth model charges per standard: the value at which
# its cycles equal the burst-level model's (layer-phases waiting for their DRAM serve time)
# on DRAM-bound replays — a 256 x 256 array with 64 KiB of SRAM, both sample LeNet-300-100
# traces, the standard in place of edge-lpddr4's DRAM, at its scheduler window (below).
# Calibrated by
# bench/dram_calibration.py (its output, and how close each standard comes, is in
# docs/dram.md); tests/sim/test_dram_calibration.py holds the agreement within 5%.
# ddr4-3200 is low because its default row-major address mapping keeps a stream in one
# bank group (tCCD_L); a bank-interleaved address_mapping serves it much faster.
BANDWIDTH_EFFICIENCY = {"ddr4-2400": 0.686, "ddr4-3200": 0.559, "lpddr4-2400": 0.858,
                        "lpddr4-3200": 0.795, "hbm2": 0.805, "ddr3-1600": 0.888}
# The burst-level model's request window, every standard: 32, DRAMsim3's trans_queue_size.
# With it and the first-ready scheduler (accelsim/sim/dram.py) accelsim's serve time is
# within 7.2 % of DRAMsim3's on every stream of bench/dramsim3_compare.py
# (docs/validation.md); at 16 it serves them 4-18 % slower than DRAMsim3 (fewer requests
# to overlap across bank groups and banks). A description may set its own.
SCHEDULER_WINDOW = 32


def _calibrated(standard: DramStandard) -> DramStandard:
    if standard.name == IDEAL:
        return standard
    values = {**standard.values, "bandwidth_efficiency": BANDWIDTH_EFFICIENCY[standard.name],
              "scheduler_window": SCHEDULER_WINDOW}
    return DramStandard(standard.name, standard.source, MappingProxyType(values))


DRAM_STANDARDS: Mapping[str, DramStandard] = MappingProxyType({
    standard.name: _calibrated(standard)
    for standard in (_IDEAL, _DDR4_2400, _DDR4_3200, _LPDDR4_2400, _LPDDR4_3200, _HBM2,
                     _DDR3_1600)
})
