"""Write ``co2_weekly.csv`` from the Mauna Loa weekly CO2 table that statsmodels ships.

The series is public domain (Keeling and Whorf, 2004; see data/README.md).
statsmodels keeps it as ``statsmodels/datasets/co2/co2.csv`` with dates as
``YYYYMMDD`` and empty cells for weeks without a measurement. This script
rewrites the dates as ISO 8601 and keeps every row and every empty cell, so
the forecasting app's loader reports and fills the gaps itself.

Usage:
    pip install statsmodels==0.15.0
    python data/forecasting/convert_co2.py [path/to/co2.csv]
"""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path

OUTPUT = Path(__file__).with_name("co2_weekly.csv")


def source_file() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    import statsmodels.datasets.co2 as package

    return Path(package.__file__).with_name("co2.csv")


def main() -> None:
    with open(source_file(), encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    with open(OUTPUT, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["date", "co2"])
        for row in rows:
            day = datetime.strptime(row["date"], "%Y%m%d").date().isoformat()
            writer.writerow([day, row["co2"]])
    print(f"{OUTPUT}: {len(rows)} weeks, {sum(not r['co2'] for r in rows)} without a value")


if __name__ == "__main__":
    main()
