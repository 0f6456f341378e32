"""Alibaba Cloud ResellerTrade 2019-12-27: the provider, its wire format and its descriptor."""
