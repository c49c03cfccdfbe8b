"""Orders, order lines, payments, invoices and refunds.

tables.py the schema; fees.py the one badge fee and the payment deadlines; balances.py what an order holds,
derived; workflow.py the engine tables; operations.py the verbs (ordering, payments, invoicing, refunding and
copay.py hold what they need); gateway.py the payment gateway's notifications.
"""
from models.finance.tables import Invoice, Order, OrderLine, Payment, Refund

__all__ = ["Invoice", "Order", "OrderLine", "Payment", "Refund"]
