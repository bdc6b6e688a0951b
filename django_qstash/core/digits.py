"""Numbers typed as text: ids, counts and cursors a database integer can hold."""


def is_number(text: str) -> bool:
    """ASCII digits that fit a database integer: "²".isdigit() is True, yet int("²") fails."""
    return text.isascii() and text.isdigit() and len(text) <= 15
