"""Text of the README.md that the generator writes into every truth folder."""

TRUTH_README = """\
# Truth files of a generated inbox

`shortpay generate` wrote these files beside the inbox folder. They record
what the generator put into the inbox, so a run of the pipeline can be
checked against them. They are not input: never copy them into an inbox.
Lines are counted from 1, and line 1 of a CSV file is its header.

## remittance_truth.csv

One row per remittance line of every payment, CSV or X12 820.

| column | meaning |
| --- | --- |
| payment_id | the payment (CSV `payment_id`, X12 TRN02) |
| line_number | CSV `line_number`, or the position of the RMR segment within its X12 payment, from 1 |
| source_format, source_file | `csv` or `x12_820`, and the file name inside the inbox |
| invoice_reference | the reference as the customer wrote it, with its noise |
| invoice_id | the invoice the line really pays, empty for a payment-level deduction or an unmatched payment |
| row_kind | `invoice`, `partial` (one of two payments of an invoice), `overpayment`, `payment_level`, `unmatched` or `reversal` (a returned payment with negative amounts) |

## deduction_truth.csv

One row per short-pay. `amount` = `valid_amount` + `invalid_amount`, except
for `needs_review` rows, which carry 0.00 in both.

| column | meaning |
| --- | --- |
| payment_id, line_number | the remittance line of the short-pay |
| invoice_id | the invoice, empty for a payment-level deduction |
| customer_id, amount | who withheld how much |
| category | trade_promotion, pricing, shortage, damage, returns, freight, tax, compliance_fine, early_pay_discount or unidentified |
| validity | `valid`, `invalid` or `needs_review` (see below) |
| reason_code | the code the customer used, empty when the short-pay has no adjustment at all |
| promotion_id | the promotion a trade_promotion deduction names in its memo |
| has_adjustment | false when the remittance shows only a lower paid amount, with no adjustment row or ADX segment |

Validity follows the evidence in the inbox:

- early_pay_discount: valid when paid within 10 days of the invoice date
  and exactly 2 % of the total (rounded half up). Paid later: all invalid.
  More than 2 %: the 2 % is valid, the rest invalid.
- pricing: valid up to the sum over lines of (invoiced - agreed price) x
  quantity, each line rounded to cents. Any amount above that is invalid.
- shortage: valid when a shipment of the invoice shows delivered < shipped,
  invalid when every line was delivered in full.
- trade_promotion: valid up to the promotion's `amount_cap`, the rest
  invalid. A sku-specific promotion's cap is its rate x the invoiced quantity.
- damage, returns, freight, tax, compliance_fine, unidentified: the inbox
  contains no evidence for them, so they are `needs_review`.

## bad_rows.csv

The rows that break the inbox contract on purpose (`file`, `line`, `column`,
`value`, `reason`). The counts and sums of `expected_summary.json` leave them
out.

## duplicate_payments.csv (hostile profile only)

Payments sent twice: the same payment_id and rows in the next week's file.
The hostile inbox also contains `resent/`, a byte-identical copy of one file.

## expected_summary.json

Counts and sums of what was written: customers, invoices and invoiced
amount, payments by format and their total, remittance lines, deductions
by category and validity, and the special cases. Amounts are decimal text.
"""
