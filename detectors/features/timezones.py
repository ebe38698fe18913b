"""Approximate UTC offset (hours, standard time) of each country's main population centre.

Only used to ask "is this account active at night where its billing address is?", so an
hour of error (daylight saving, countries spanning several zones: US → Eastern, RU →
Moscow, BR → Brasília, AU → Sydney, CN one zone) does not matter: nights are six hours
long.  Unknown countries give NaN for the local-time features.
"""

from __future__ import annotations

COUNTRY_UTC_OFFSET: dict[str, int] = {
    # Americas
    "US": -5, "CA": -5, "MX": -6, "BR": -3, "AR": -3, "CL": -4, "CO": -5, "PE": -5, "VE": -4, "EC": -5,
    "UY": -3, "PY": -4, "BO": -4, "CR": -6, "PA": -5, "GT": -6, "DO": -4, "CU": -5, "JM": -5, "PR": -4,
    # Europe
    "GB": 0, "IE": 0, "PT": 0, "IS": 0, "ES": 1, "FR": 1, "DE": 1, "NL": 1, "BE": 1, "LU": 1, "CH": 1, "AT": 1,
    "IT": 1, "DK": 1, "NO": 1, "SE": 1, "PL": 1, "CZ": 1, "SK": 1, "HU": 1, "SI": 1, "HR": 1, "RS": 1,
    "BA": 1, "MK": 1, "AL": 1, "MT": 1, "FI": 2, "EE": 2, "LV": 2, "LT": 2, "UA": 2, "RO": 2, "BG": 2,
    "GR": 2, "CY": 2, "MD": 2, "BY": 3, "RU": 3, "TR": 3,
    # Middle East and Africa
    "IL": 2, "PS": 2, "LB": 2, "JO": 3, "SY": 3, "IQ": 3, "SA": 3, "KW": 3, "QA": 3, "BH": 3, "AE": 4,
    "OM": 4, "IR": 3, "EG": 2, "LY": 2, "TN": 1, "DZ": 1, "MA": 1, "NG": 1, "GH": 0, "CI": 0, "SN": 0,
    "KE": 3, "ET": 3, "TZ": 3, "UG": 3, "ZA": 2, "ZW": 2, "ZM": 2, "AO": 1, "CM": 1, "RW": 2,
    # Asia and Oceania
    "PK": 5, "IN": 5, "LK": 5, "NP": 6, "BD": 6, "MM": 7, "TH": 7, "VN": 7, "KH": 7, "LA": 7, "ID": 7,
    "MY": 8, "SG": 8, "PH": 8, "CN": 8, "HK": 8, "MO": 8, "TW": 8, "MN": 8, "KR": 9, "KP": 9, "JP": 9,
    "AU": 10, "NZ": 12, "KZ": 5, "UZ": 5, "KG": 6, "TJ": 5, "TM": 5, "AF": 4, "AZ": 4, "GE": 4, "AM": 4,
}  # fmt: skip
