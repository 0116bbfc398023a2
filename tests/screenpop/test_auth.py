"""The token book: a token names its handler; anything else is a BadToken that names no token."""

from __future__ import annotations

import pytest

from screenpop.auth import TokenBook
from screenpop.errors import BadToken

BOOK = TokenBook({"tok-ana-7f3a": "ana", "tok-bo-91c2": "bo"})


def test_a_known_token_names_its_handler() -> None:
    assert (BOOK.handler_for("tok-ana-7f3a"), BOOK.handler_for("tok-bo-91c2")) == ("ana", "bo")


@pytest.mark.parametrize("token", [None, "", "tok-ana-7f3", "tok-ana-7f3a ", "TOK-ANA-7F3A", "tok-ana-7f3a\x00"])
def test_anything_else_is_a_bad_token(token: str | None) -> None:
    with pytest.raises(BadToken) as caught:
        BOOK.handler_for(token)
    assert not token or token.strip() not in str(caught.value)


def test_an_empty_token_in_the_configuration_never_matches() -> None:
    with pytest.raises(BadToken):
        TokenBook({"": "ana"}).handler_for("")


def test_the_book_does_not_show_its_tokens() -> None:
    assert repr(BOOK) == "TokenBook(2 tokens)"
