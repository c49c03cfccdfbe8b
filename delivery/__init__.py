"""Delivering the outbox: e-mail through Flask-Mailman, SMS through a gateway, text rendered in Chinese.

sender.deliver_pending() is what `flask send-outbox` and the send-outbox job run.
"""
