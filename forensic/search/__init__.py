"""``forensic search``: keywords, regular expressions and built-in patterns over a case.

- :mod:`~forensic.search.terms`: the terms and the one compiled matcher;
- :mod:`~forensic.search.patterns`: built-in lists (phones, e-mail, IBAN, cards, BTC/ETH/TRX, ...);
- :mod:`~forensic.search.raw`: the streaming pass over raw bytes and the run maps to the image;
- :mod:`~forensic.search.text`: text extracted from documents (PDF, Office, HTML, BOM text);
- :mod:`~forensic.search.engine`: where each is searched (store, files, slack, unallocated).
"""
