"""PDF reports through Typst (the ``typst`` package: the compiler in the wheel, no system
libraries), shared by the service's admin page and the collector.

The template (``share/templates/*.typ``) reads its figures and strings from one JSON value
passed in ``sys.inputs``: data is never parsed as Typst markup, so no string needs escaping.
Only the fonts built into the compiler are used (system fonts are ignored), so a PDF looks
the same on every machine and embeds every font it uses.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from .datafiles import find_data_files_path

#: Page sizes by setting, as Typst names them.
PAPER = {"a4": "a4", "letter": "us-letter"}


class PDFError(RuntimeError):
    """The PDF could not be made (the message says why)."""


@cache
def _template(name: str) -> bytes:
    return (find_data_files_path() / "templates" / name).read_bytes()


class PDFRenderer:
    """Compiles the report templates; one compiler per template, reused, one at a time."""

    def __init__(self, templates: Path | None = None) -> None:
        self.templates = templates
        self._lock = threading.Lock()
        self._compilers: dict[str, Any] = {}

    def _root(self) -> str:
        """The folder a template's ``#import`` and ``#include`` are found in."""
        return str(self.templates or find_data_files_path() / "templates")

    def _source(self, name: str) -> bytes:
        if self.templates is not None:
            return (self.templates / name).read_bytes()
        return _template(name)

    def render(
        self,
        template: str,
        data: dict[str, Any],
        *,
        page_size: str = "a4",
        timestamp: datetime | None = None,
    ) -> bytes:
        """The PDF of *template* filled with *data*; raises PDFError when Typst fails."""
        import typst

        inputs = {"data": json.dumps(data, ensure_ascii=False), "paper": PAPER[page_size]}
        source = self._source(template)
        with self._lock:
            compiler = self._compilers.get(template)
            if compiler is None:
                compiler = typst.Compiler(source, ignore_system_fonts=True, root=self._root())
                self._compilers[template] = compiler
            try:
                # the source again each time: a compiler made from bytes otherwise looks for
                # it as a file on the second compile
                pdf = compiler.compile(
                    source,
                    format="pdf",
                    sys_inputs=inputs,
                    timestamp=None if timestamp is None else int(timestamp.timestamp()),
                )
            except typst.TypstError as error:
                raise PDFError(f"Typst could not compile {template}: {error.message}") from None
        if not isinstance(pdf, bytes):
            raise PDFError(f"Typst returned no PDF for {template}")
        return pdf
