"""Readers for the inbox: ERP extracts, remittances and bank files."""
