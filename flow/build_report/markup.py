"""Small HTML helpers: every text goes through html.escape unless it is marked Raw (markup made here)."""

from html import escape


class Raw(str):
    """Markup built by this package, inserted as is."""


def esc(value) -> str:
    return value if isinstance(value, Raw) else escape(str(value))


def table(headers: list, rows: list, num: set = frozenset(), cls: str = "") -> Raw:
    """A table; columns whose index is in ``num`` are right-aligned figures."""
    def cell(tag, i, v):
        return f'<{tag}{" class=num" if i in num else ""}>{esc(v)}</{tag}>'
    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return Raw(f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def section(ident: str, title: str, *parts) -> Raw:
    return Raw(f'<section id="{esc(ident)}"><h2>{esc(title)}</h2>' + "".join(map(str, parts)) + "</section>")


def para(text, cls: str = "") -> Raw:
    return Raw(f'<p{f" class={esc(cls)}" if cls else ""}>{esc(text)}</p>')


def absent(text: str) -> Raw:
    """The one line a section shows when its artifact is not in the output."""
    return Raw(f'<p class="absent">{esc(text)}</p>')


def img(uri: str, alt: str) -> Raw:
    return Raw(f'<img src="{esc(uri)}" alt="{esc(alt)}">')


def details(summary: str, content) -> Raw:
    return Raw(f"<details><summary>{esc(summary)}</summary>{content}</details>")


def badge(verdict: str) -> Raw:
    return Raw(f'<span class="v v-{esc(verdict.lower())}">{esc(verdict)}</span>')
