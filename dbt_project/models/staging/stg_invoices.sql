-- One row per invoice and customer (an invoice id is unique within a
-- customer). When several files carry the same key, the row from the file
-- loaded last wins.
{{ invoice_rows() }}
