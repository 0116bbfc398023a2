"""Rows of police.uk's street-level crime CSV, as data.police.uk publishes them, for the tests."""

from __future__ import annotations

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
          "Last outcome category,Context")
FORCE = "Greater Manchester Police"


def crime(crime_id: str, month: str, lon: str, lat: str, kind: str = "Burglary",
          outcome: str = "Investigation complete; no suspect identified", where: str = "On or near Market Street") -> str:
    return (f"{crime_id},{month},{FORCE},{FORCE},{lon},{lat},{where},E01033658,Manchester 054C,{kind},"
            f"\"{outcome}\",")


def anti_social(month: str, lon: str, lat: str) -> str:
    """Anti-social behaviour: no Crime ID, no outcome."""
    return f",{month},{FORCE},{FORCE},{lon},{lat},On or near Piccadilly,E01033658,Manchester 054C,Anti-social behaviour,,"


def no_point(crime_id: str, month: str) -> str:
    return f"{crime_id},{month},{FORCE},{FORCE},,,No Location,,,Violence and sexual offences,Under investigation,"


def crime_file(*rows: str) -> str:
    return "\r\n".join((HEADER, *rows)) + "\r\n"
