"""Wallet payments (issue 16): a pure payment state machine (`machine`), the providers'
documented HTTP APIs as thin adapters (`wechat`, `alipay`) and their settings
(`settings`). The daemon (`gateway.daemon.payments`) carries out what the machine asks."""
