"""The Pulumi program's building blocks (imported by module; `python -m infra.naming` and `infra.roles` are commands).

  config        stack config, validated into CustomVisionArgs
  accounts      the accounts each mode creates, their kinds and SKUs
  naming        Azure's naming rules
  roles         the built-in roles granted, and the condition on who may grant them
  regions       the regions that offer Custom Vision
  custom_vision the CustomVision component
"""
