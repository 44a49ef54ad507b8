"""`proto-rules lsp`: a language server over stdio, for editors (pygls carries the JSON-RPC).

Each open document is analysed once per version (`lsp/features.py`): its diagnostics are published
on open and on every change, and hover, definition, references, completion, the outline and
formatting are answered from that analysis, and so are the quick fixes of diagnostics that
offer one and the renaming of a definition or derived value. Positions are converted between the
client's units (UTF-16 for most editors) and the code points the features count in.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from lsp import features
from protocol import model as m

SERVER = LanguageServer("proto-rules", "0.1.0")
#: LSP's error code for a request understood and refused (a rename that would break the file).
REQUEST_FAILED = -32803
#: The analysis of each open document's current version, and the last model that parsed.
ANALYSES: dict[str, tuple[int | None, features.Analysis]] = {}
MODELS: dict[str, m.Protocol] = {}


def analysis(uri: str) -> tuple[TextDocument, features.Analysis]:
    """The document and its analysis, worked out again only when its version changed."""
    document = SERVER.workspace.get_text_document(uri)
    cached = ANALYSES.get(uri)
    if cached is not None and cached[0] == document.version and cached[1].text == document.source:
        return document, cached[1]
    result = features.analyse(document.source, document.path or uri, MODELS.get(uri))
    if result.protocol is not None:
        MODELS[uri] = result.protocol
    ANALYSES[uri] = (document.version, result)
    return document, result


def _publish(uri: str) -> None:
    document, found = analysis(uri)
    diagnostics = [_to_client(document, d) for d in features.lsp_diagnostics(found)]
    SERVER.text_document_publish_diagnostics(
        t.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=document.version))


def _to_client(document: TextDocument, item):
    """A range (or an item with one) in the client's units."""
    codec, lines = document.position_codec, document.lines
    if isinstance(item, t.Range):
        return codec.range_to_client_units(lines, item)
    item.range = codec.range_to_client_units(lines, item.range)
    if getattr(item, "selection_range", None) is not None:
        item.selection_range = codec.range_to_client_units(lines, item.selection_range)
    for child in getattr(item, "children", None) or ():
        _to_client(document, child)
    return item


def _at(uri: str, position: t.Position) -> tuple[TextDocument, features.Analysis, int, int]:
    document, found = analysis(uri)
    here = document.position_codec.position_from_client_units(document.lines, position)
    return document, found, here.line, here.character


@SERVER.feature(t.TEXT_DOCUMENT_DID_OPEN)
def did_open(params: t.DidOpenTextDocumentParams) -> None:
    _publish(params.text_document.uri)


@SERVER.feature(t.TEXT_DOCUMENT_DID_CHANGE)
def did_change(params: t.DidChangeTextDocumentParams) -> None:
    _publish(params.text_document.uri)


@SERVER.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(params: t.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ANALYSES.pop(uri, None)
    MODELS.pop(uri, None)
    SERVER.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@SERVER.feature(t.TEXT_DOCUMENT_HOVER)
def hover(params: t.HoverParams) -> t.Hover | None:
    document, found, line, column = _at(params.text_document.uri, params.position)
    answer = features.hover(found, line, column)
    if answer is not None and answer.range is not None:
        answer.range = _to_client(document, answer.range)
    return answer


@SERVER.feature(t.TEXT_DOCUMENT_DEFINITION)
def definition(params: t.DefinitionParams) -> t.Location | None:
    document, found, line, column = _at(params.text_document.uri, params.position)
    where = features.definition(found, line, column)
    if where is None:
        return None
    path, declared = where
    if path != found.path:  # a set an imported module declares: its own file, as written there
        lines = (found.protocol.source_of(path) or "").splitlines(keepends=True)
        return t.Location(uri=Path(path).resolve().as_uri(),
                          range=document.position_codec.range_to_client_units(lines, declared))
    return t.Location(uri=params.text_document.uri, range=_to_client(document, declared))


@SERVER.feature(t.TEXT_DOCUMENT_REFERENCES)
def references(params: t.ReferenceParams) -> list[t.Location]:
    document, found, line, column = _at(params.text_document.uri, params.position)
    return [t.Location(uri=params.text_document.uri, range=_to_client(document, where))
            for where in features.references(found, line, column,
                                             params.context.include_declaration)]


@SERVER.feature(t.TEXT_DOCUMENT_COMPLETION,
                t.CompletionOptions(trigger_characters=[" ", "{", ","]))
def completion(params: t.CompletionParams) -> t.CompletionList:
    _, found, line, column = _at(params.text_document.uri, params.position)
    return t.CompletionList(is_incomplete=False, items=features.completion(found, line, column))


@SERVER.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(params: t.DocumentSymbolParams) -> list[t.DocumentSymbol]:
    document, found = analysis(params.text_document.uri)
    return [_to_client(document, symbol) for symbol in features.symbols(found)]


@SERVER.feature(t.TEXT_DOCUMENT_CODE_ACTION,
                t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix]))
def code_action(params: t.CodeActionParams) -> list[t.CodeAction]:
    """The fixes of the diagnostics in the range asked about, as quick fixes."""
    uri = params.text_document.uri
    document, found = analysis(uri)
    codec, lines = document.position_codec, document.lines
    asked = codec.range_from_client_units(lines, params.range)
    actions = []
    for diagnostic, edit in features.fixes(found, (asked.start.line, asked.start.character),
                                           (asked.end.line, asked.end.character)):
        title = f"Replace with '{edit.new_text}'"
        actions.append(t.CodeAction(
            title=title, kind=t.CodeActionKind.QuickFix, is_preferred=True,
            diagnostics=[_to_client(document, diagnostic)],
            edit=t.WorkspaceEdit(changes={uri: [_to_client(document, edit)]})))
    return actions


@SERVER.feature(t.TEXT_DOCUMENT_PREPARE_RENAME)
def prepare_rename(params: t.PrepareRenameParams) -> t.Range:
    document, found, line, column = _at(params.text_document.uri, params.position)
    try:
        name = features.renamed(found, line, column)
    except features.Refused as refused:
        raise JsonRpcException(str(refused), REQUEST_FAILED) from None
    return _to_client(document, features.lexeme_range(name))


@SERVER.feature(t.TEXT_DOCUMENT_RENAME)
def rename(params: t.RenameParams) -> t.WorkspaceEdit:
    uri = params.text_document.uri
    document, found, line, column = _at(uri, params.position)
    try:
        edits = features.rename(found, line, column, params.new_name)
    except features.Refused as refused:
        raise JsonRpcException(str(refused), REQUEST_FAILED) from None
    return t.WorkspaceEdit(changes={uri: [_to_client(document, edit) for edit in edits]})


@SERVER.feature(t.TEXT_DOCUMENT_FORMATTING)
def formatting(params: t.DocumentFormattingParams) -> list[t.TextEdit]:
    document, found = analysis(params.text_document.uri)
    return [_to_client(document, edit) for edit in features.formatting(found)]


def serve() -> int:
    """Serve one editor over stdin and stdout until it says exit."""
    SERVER.start_io()
    return 0
