"""DuckDB SQL that builds the ERP side of a generated data set.

Every random choice is ``hash(seed, salt, key)``: the same seed, salt and
row key give the same value in any thread order, so a data set is
reproducible for a seed. ``rnd`` returns a value in [0, 1) for rates,
``pick`` an integer in [0, n). Money is built from integer cents or
ten-thousandths, so no amount ever passes through a float.

NOTE: DuckDB does not promise that ``hash`` stays the same across
versions, so another DuckDB version may generate different data for the
same seed. The bundled sample was written with DuckDB 2.0.1.
"""

from __future__ import annotations

MACROS = [
    """
    create or replace macro rnd(salt, k) as
        (hash(getvariable('seed'), salt, k) % 1000000)::double / 1000000
    """,
    """
    create or replace macro pick(salt, k, n) as
        (hash(getvariable('seed'), salt, k) % n::ubigint)::bigint
    """,
    # A price in ten-thousandths as text with 2, 3 or 4 decimals, so the
    # files carry unit prices of every precision the contract allows.
    """
    create or replace macro price_text(units) as
        case
            when units % 100 = 0
                then ((units // 100)::decimal(18, 0) * 0.01)::decimal(18, 2)::varchar
            when units % 10 = 0
                then ((units // 10)::decimal(18, 0) * 0.001)::decimal(18, 3)::varchar
            else (units::decimal(18, 0) * 0.0001)::decimal(18, 4)::varchar
        end
    """,
    # A typing error in a reference: the last two characters swapped, or the
    # last digit changed when both are equal.
    """
    create or replace macro typo(reference) as
        case
            when right(reference, 1) = left(right(reference, 2), 1)
                then left(reference, -1) || ((right(reference, 1)::integer + 1) % 10)::varchar
            else left(reference, -2) || right(reference, 1) || left(right(reference, 2), 1)
        end
    """,
    """
    create or replace macro price_value(units) as
        (units::decimal(18, 0) * 0.0001)::decimal(18, 4)
    """,
]

CUSTOMERS = """
create or replace table customers as
with base as (
    select
        i,
        'C' || lpad((i + 1)::varchar, 5, '0') as customer_id,
        ['Acme', 'Northwind', 'Bluebird', 'Harbor', 'Summit', 'Prairie', 'Keystone',
         'Lakeside', 'Redwood', 'Granite', 'Maple', 'Cedar', 'Pioneer', 'Silverline',
         'Evergreen', 'Riverbend', 'Oakridge', 'Sunrise', 'Frontier', 'Coastal',
         'Highland', 'Meadow', 'Union', 'Liberty', 'Beacon'][1 + i % 25] as word,
        ['Markets', 'Grocers', 'Foods', 'Wholesale', 'Stores', 'Supermarkets',
         'Distributors', 'Retail', 'Provisions', 'Pantry', 'Trading', 'Co-op']
            [1 + (i // 25) % 12] as suffix,
        ['Dana', 'Priya', 'Marco', 'Lena', 'Tomas', 'Aisha', 'Kenji', 'Olga', 'Sam',
         'Rosa'][1 + pick('contact', i, 10)] as contact_first,
        ['Miller', 'Okafor', 'Rossi', 'Novak', 'Chen', 'Haddad', 'Silva', 'Berg',
         'Kowalski', 'Ortiz'][1 + pick('contact_last', i, 10)] as contact_last
    from range(getvariable('n_customers')) as t (i)
),

named as (
    select
        *,
        case
            when i = 1 then 'O''Brien & Sons <Wholesale>'
            when i >= 300 then word || ' ' || suffix || ' ' || (i // 300 + 1)::varchar
            else word || ' ' || suffix
        end as name
    from base
)

select
    i,
    customer_id,
    name,
    case
        when i % 12 = 5 then 'C' || lpad((i - 5 + 1)::varchar, 5, '0')
    end as parent_customer_id,
    'ap@' || trim(regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g'), '-')
        || '.example.com' as ar_contact_email,
    contact_first || ' ' || contact_last as ar_contact_name,
    case when i % 17 = 9 then 'CA' else 'US' end as country,
    case when i % 7 = 3 then 'retail_a' end as reason_code_set,
    -- The first customers that are not retail_a send X12 820 files.
    (i % 7 <> 3 and i <> 1 and i >= 2
        and i < 2 + getvariable('edi_customers') * 2 and i % 2 = 0) as is_edi
from named
"""

SKUS = """
create or replace table skus as
with base as (
    select
        i,
        'SKU-' || lpad((i + 1)::varchar, 4, '0') as sku,
        50000 + pick('sku_price', i, 450000) as raw_units,
        pick('sku_precision', i, 3) as precision_kind
    from range(getvariable('n_skus')) as t (i)
)

select
    i,
    sku,
    ['Tomato sauce', 'Olive oil', 'Pasta', 'Rice', 'Coffee beans', 'Tea', 'Cereal',
     'Crackers', 'Juice', 'Sparkling water', 'Canned beans', 'Granola'][1 + i % 12]
        || ' ' || (1 + i // 12)::varchar as description,
    raw_units - raw_units % [100, 10, 1][1 + precision_kind] as base_units,
    [100, 10, 1][1 + precision_kind] as granularity
from base
"""

PRICES = """
create or replace table prices as
select
    c.customer_id,
    s.sku,
    s.i as sku_index,
    c.i as customer_index,
    -- agreed price: 90 to 100 % of list, kept at the sku's precision
    (s.base_units * (90 + pick('agreed', c.i * 100003 + s.i, 11)) // 100)
        // s.granularity * s.granularity as agreed_units
from customers as c
cross join skus as s
-- each customer buys an assortment of consecutive skus starting at c.i * 37
where getvariable('assortment_size') >= getvariable('n_skus')
    or (s.i - c.i * 37 % getvariable('n_skus') + getvariable('n_skus'))
        % getvariable('n_skus') < getvariable('assortment_size')
"""

INVOICES = """
create or replace table invoices as
with base as (
    select
        i,
        (getvariable('first_invoice_number') + i)::varchar as invoice_id,
        pick('invoice_customer', i, getvariable('n_customers')) as customer_index,
        getvariable('first_invoice_date')::date
            + pick('invoice_date', i, getvariable('invoice_date_days'))::integer as invoice_date,
        rnd('terms', i) as terms_draw,
        getvariable('min_lines')
            + pick('line_count', i, getvariable('max_lines') - getvariable('min_lines') + 1)
            as line_count
    from range(getvariable('n_invoices')) as t (i)
)

select
    b.i,
    b.invoice_id,
    c.customer_id,
    c.i as customer_index,
    c.name as customer_name,
    c.reason_code_set,
    c.is_edi,
    b.invoice_date,
    case
        when b.terms_draw < getvariable('discount_terms_rate') then '2/10 NET 30'
        when b.terms_draw < getvariable('discount_terms_rate') + getvariable('net45_rate')
            then 'NET 45'
        else 'NET 30'
    end as payment_terms,
    b.line_count,
    'PO' || lpad(pick('po', b.i, 1000000)::varchar, 6, '0') as po_number
from base as b
inner join customers as c on b.customer_index = c.i
"""

INVOICE_LINES = """
create or replace table invoice_lines as
with base as (
    select
        inv.i as invoice_index,
        inv.invoice_id,
        inv.customer_index,
        inv.invoice_date,
        n.line_number,
        inv.i * 16 + n.line_number as line_key,
        case
            when getvariable('assortment_size') >= getvariable('n_skus')
                then pick('line_sku', inv.i * 16 + n.line_number, getvariable('n_skus'))
            else (inv.customer_index * 37
                + pick('line_sku', inv.i * 16 + n.line_number, getvariable('assortment_size')))
                % getvariable('n_skus')
        end as sku_index,
        1 + pick('line_qty', inv.i * 16 + n.line_number, 48) as quantity
    from invoices as inv
    inner join range(1, 17) as n (line_number) on n.line_number <= inv.line_count
),

priced as (
    select
        b.*,
        p.sku,
        p.agreed_units,
        rnd('overprice', b.line_key) < getvariable('overprice_rate') as is_overpriced
    from base as b
    inner join prices as p
        on b.customer_index = p.customer_index and b.sku_index = p.sku_index
),

final as (
    select
        *,
        agreed_units
            + case
                when is_overpriced then 100 * (10 + pick('overprice_cents', line_key, 191))
                else 0
            end as unit_units
    from priced
)

select
    f.*,
    price_value(f.unit_units) as unit_price,
    price_text(f.unit_units) as unit_price_text,
    price_value(f.agreed_units) as agreed_price,
    round(f.quantity * price_value(f.unit_units), 2)::decimal(18, 2) as line_amount,
    s.description
from final as f
inner join skus as s on f.sku_index = s.i
"""

SHIPMENTS = """
create or replace table shipments as
select
    invoice_id,
    invoice_index,
    line_number,
    line_key,
    quantity as shipped_quantity,
    case
        when quantity >= 2 and rnd('short', line_key) < getvariable('short_ship_rate')
            then quantity - 1 - pick('short_qty', line_key, least(3, quantity - 1))
        else quantity
    end as delivered_quantity,
    invoice_date + (1 + pick('delivery_days', line_key, 4))::integer as delivery_date,
    'POD-' || lpad(pick('pod', line_key, 100000000)::varchar, 8, '0') as pod_reference,
    ['UPS Freight', 'Estes', 'XPO', 'Old Dominion', 'Saia'][1 + pick('carrier', invoice_index, 5)]
        as carrier,
    unit_price
from invoice_lines
"""

INVOICE_TOTALS = """
create or replace table invoice_totals as
select
    inv.*,
    t.total_amount,
    t.line1_sku,
    t.line1_quantity,
    t.line1_unit_price,
    t.over_amount,
    t.short_amount,
    inv.invoice_date
        + case when inv.payment_terms = 'NET 45' then 45 else 30 end as due_date
from invoices as inv
inner join (
    select
        l.invoice_index,
        sum(l.line_amount)::decimal(18, 2) as total_amount,
        min(case when l.line_number = 1 then l.sku end) as line1_sku,
        min(case when l.line_number = 1 then l.quantity end) as line1_quantity,
        min(case when l.line_number = 1 then l.unit_price end) as line1_unit_price,
        sum(round((l.unit_price - l.agreed_price) * l.quantity, 2))::decimal(18, 2)
            as over_amount,
        sum(round((s.shipped_quantity - s.delivered_quantity) * l.unit_price, 2))
            ::decimal(18, 2) as short_amount
    from invoice_lines as l
    inner join shipments as s on l.line_key = s.line_key
    group by l.invoice_index
) as t on inv.i = t.invoice_index
"""

# Hostile data: the last invoices reuse the number of an invoice of another
# customer, as when two business units number invoices independently.
SHARED_INVOICE_NUMBERS = """
update invoices
set invoice_id = other.invoice_id
from invoices as other
where invoices.i >= getvariable('n_invoices') - getvariable('shared_invoice_numbers')
    and other.i = invoices.i - getvariable('n_invoices') // 2
    and other.customer_index <> invoices.customer_index
"""
