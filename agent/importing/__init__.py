"""Bringing an existing help center in: files, websites and helpdesk exports → draft articles.

`run.import_source` is the entry point: it reads a source (`files`, `website`, `helpdesks`), converts
each source article to Markdown (`convert`), turns it into a draft file with full front matter
(`drafts`) and writes it incrementally into the target folder (`sync`), which keeps its state in
`.import-state.json` next to the drafts.
"""
