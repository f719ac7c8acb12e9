{#- The columns of stg_invoices: one row per invoice and customer, the row
    of the file loaded last. With scope_column, only the invoices that an
    incremental build rebuilds are read and ranked (see latest_rows), so
    an invoice-grain model need not rank every invoice of stg_invoices
    to keep a few. -#}
{% macro invoice_rows(scope_column=none) -%}
    select
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        upper(currency) as currency,
        total_amount,
        po_number,
        upper(trim(payment_terms)) as payment_terms,
        bill_to_name,
        coalesce(is_disputed, false) as is_disputed,
        source_file,
        file_hash,
        source_position
    from (
        {{ latest_rows('invoices', 'invoice_id, customer_id', scope_column=scope_column) }}
    ) as latest
{%- endmacro %}
