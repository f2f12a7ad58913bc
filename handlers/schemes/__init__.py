"""Signing schemes, written once each; vendor modules declare which one they use and with what
parameters, and keep only what is really their own (what is signed, where the secret comes from).
"""
