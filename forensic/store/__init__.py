"""The case store: the one owner of every table of ``CASE/case.db``.

Everything that reads or writes the store goes through the functions of this package, which
return the typed rows of :mod:`forensic.store.records`; no other module holds SQL for it
(a test checks). :mod:`~forensic.store.schema` lays out the tables and migrates older
stores; :mod:`~forensic.store.db` opens connections and runs write transactions.
"""
