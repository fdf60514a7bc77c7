"""Reading, the first stage: turn a file or a folder of articles into Article records.

Modules: files (the walk, hashing, streaming, the reader per suffix), documents (.txt, .md,
.html), tables (.jsonl, .csv), ids (sanitising, duplicates), common (record types, limits,
decoding).

`scan_inputs(path)` walks INPUT (a file, or a folder searched recursively in sorted
order, hidden entries and symlinked folders skipped; a symlinked file is read only
when it points to a file inside INPUT) and hashes each file in chunks, parsing
nothing: the manifest's file list, its digest and a record estimate. Then
`stream_inputs(scan)` yields one `Article` per usable record and one `BadRecord`
per unusable one, lazily and in walk order; it never raises for a single bad
record. Memory stays bounded whatever the input's size: `.jsonl` and `.csv` files
are read line by line (never whole), and the ids seen so far live in a SQLite table
in a temp file. Each file's bytes are hashed again as they are parsed; a file whose
sha256 or size no longer matches the scan raises `InputChanged` when its end is
reached. `iter_articles(path)` streams without hashing; `read_inputs` keeps every
record (small inputs only).

Formats, chosen by suffix (case-insensitive):

- `.txt`: the first non-empty line is the title; blank lines separate paragraphs.
- `.md`, `.markdown`: optional YAML front matter (title, id, date, url, tags, ...);
  a leading `# heading` is the title when front matter has none, and is dropped
  when it repeats the front-matter title. Markdown stays in the text as written;
  list items and headings become paragraphs of their own. Front matter is
  limited to 64 KiB and 50 levels of nesting, and YAML aliases are refused (they
  let a few hundred bytes expand into gigabytes).
- `.html`, `.htm`: the main text and metadata come from trafilatura
  (`bare_extraction` with favor_precision, comments excluded, tables kept), after
  pruning elements marked hidden and turning a text `<div>` broken by `<br><br>`
  into paragraphs (precision mode otherwise drops its first part). Each extracted
  paragraph, heading, list item, quote and table row becomes a paragraph (cells
  joined by " | "); a leading heading that repeats the title is dropped. The
  title is trafilatura's (the page's h1, og:title or `<title>`); meta holds
  author, date (YYYY-MM-DD as the page declares it; no guessing from the text),
  url (canonical), sitename, description, categories and tags when found. On the
  ScrapingHub article-extraction benchmark (181 pages, bench/EXTRACTION.md) this
  scores F1 0.966 (no page lost) against 0.960 for trafilatura's defaults and
  0.831 for the earlier hand-written tag-rule extractor, which lost 5 pages; no
  combination with the hand-written extractor scored higher, so it was removed.
- `.jsonl`, `.csv`: one article per record with `title` and `body` (or `text`),
  optional `id`; other fields become metadata. A record that cannot be used costs only
  itself, with its line: malformed JSON, invalid UTF-8 or a NUL byte in its line(s), or
  more than MAX_RECORD_BYTES (16 MiB) in one JSONL line or one CSV row, all fields
  together (the csv module's field limit, 131,072 characters by default, is raised to
  that for the process). An empty or binary file is refused from its first 64 KiB, as a
  whole; UTF-16 with a byte-order mark is decoded on the fly (an undecodable byte ends
  the file there with a bad record). Lines end at "\n", "\r\n" or "\r".

Any other suffix is reported as a BadRecord ("unsupported file type .xyz").

Ids: a record's own `id`, else the file's path relative to INPUT without its
suffix (the stem for a single-file INPUT), with `/<line>` appended for a
`.jsonl`/`.csv` record. Ids are sanitised by `sanitize_id` so they are always
safe relative paths; a later record whose id collides with an earlier one
(ignoring case, since case-insensitive file systems would merge them) is a
BadRecord and the first one wins.
"""
from summarize.read.common import (
    MAX_FRONT_MATTER,
    MAX_FRONT_MATTER_DEPTH,
    MAX_ID_COMPONENT,
    MAX_RECORD_BYTES,
    Item,
    split_paragraphs,
)
from summarize.read.files import (
    SUFFIXES,
    InputFiles,
    InputScan,
    files_digest,
    iter_articles,
    read_inputs,
    scan_inputs,
    stream_inputs,
)
from summarize.read.ids import sanitize_id

__all__ = [
    "MAX_FRONT_MATTER",
    "MAX_FRONT_MATTER_DEPTH",
    "MAX_ID_COMPONENT",
    "MAX_RECORD_BYTES",
    "SUFFIXES",
    "InputFiles",
    "InputScan",
    "Item",
    "files_digest",
    "iter_articles",
    "read_inputs",
    "sanitize_id",
    "scan_inputs",
    "split_paragraphs",
    "stream_inputs",
]
