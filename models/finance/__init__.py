"""Orders, order lines, payments, invoices and refunds."""
from models.finance.tables import Invoice, Order, OrderLine, Payment, Refund

__all__ = ["Invoice", "Order", "OrderLine", "Payment", "Refund"]
