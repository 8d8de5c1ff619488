"""Phone numbers as people type them, reduced to one form (E.164) to find who is calling."""

DEFAULT_REGION = "ES"


def normalise(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """Return raw as +34600111222 (Spain unless it says otherwise), or None if it is no number."""
    import phonenumbers  # loaded on first use: the CLI's jobs never pay for its tables

    if not raw or not raw.strip():
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
