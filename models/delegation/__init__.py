"""Expo editions, the delegation tree and the back-office users: tables here, verbs in operations.py."""
from models.delegation.tables import Delegation, ExpoEdition, SubDelegation, User, user_sub_delegation

__all__ = ["Delegation", "ExpoEdition", "SubDelegation", "User", "user_sub_delegation"]
