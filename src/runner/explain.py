# Why a notebook failed, read from the executed notebook (python3 -c "$EXPLAIN" NOTEBOOK OUT):
# the first cell with an error output, as JSON in the file OUT, and one line for a person on
# stdout ("cell 3 raised ValueError: the data is bad"). Nothing is written, and the exit status
# is 3, when no cell holds an error (1, with a traceback, is this script failing). Everything in the notebook is untrusted (the notebook
# wrote it): types are checked, terminal colour codes and control characters dropped, and
# every field bounded, so that the report stays small; the service checks it all again.
import json, re, sys

SOURCE_LINES, LINE_CHARS = 10, 200
ENAME_CHARS, EVALUE_CHARS, TRACEBACK_CHARS = 200, 1000, 6000
# Terminal escape sequences (CSI: colours, cursor moves; OSC: titles, links; then character
# sets and the two-byte ones), then control characters but newline and tab.
CODES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
# The cells papermill adds to the notebook it executes: not the author's, so not counted.
ADDED = {"papermill-error-cell-tag", "injected-parameters"}


def text(value):
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return CODES.sub("", value.replace("\r\n", "\n")) if isinstance(value, str) else ""


def cut(value, chars):
    return value if len(value) <= chars else value[: chars - 1] + "…"


def first_lines(source):
    lines = source.splitlines()
    shown = [cut(line, LINE_CHARS) for line in lines[:SOURCE_LINES]]
    if len(lines) > SOURCE_LINES:
        shown.append(f"… ({len(lines) - SOURCE_LINES} more lines)")
    return "\n".join(shown)


def failure(cells):
    index = 0
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        if isinstance(tags, list) and ADDED.intersection(t for t in tags if isinstance(t, str)):
            continue
        outputs = cell.get("outputs")
        for output in outputs if isinstance(outputs, list) else []:
            if isinstance(output, dict) and output.get("output_type") == "error":
                lines = output.get("traceback")
                traceback = text("\n".join(lines) if isinstance(lines, list) else "")
                if len(traceback) > TRACEBACK_CHARS:
                    traceback = "…" + traceback[len(traceback) - TRACEBACK_CHARS + 1 :]
                return {
                    "cell_index": index,
                    "source": first_lines(text(cell.get("source"))),
                    "ename": cut(text(output.get("ename")).strip(), ENAME_CHARS),
                    "evalue": cut(text(output.get("evalue")), EVALUE_CHARS),
                    "traceback": traceback,
                }
        index += 1
    return None


with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    notebook = json.load(f)
cells = notebook.get("cells") if isinstance(notebook, dict) else None
found = failure(cells if isinstance(cells, list) else [])
if found is None:
    sys.exit(3)
with open(sys.argv[2], "w") as f:
    f.write(json.dumps(found))
evalue = found["evalue"].strip().split("\n")[0]
print(f"cell {found['cell_index'] + 1} raised {found['ename'] or 'an error'}" + (f": {cut(evalue, 300)}" if evalue else ""))
