variable "partition" {
  description = "AWS partition."
  type        = string
}

variable "region" {
  description = "Region where models named directly are invoked."
  type        = string
}

variable "account_id" {
  description = "Account that owns the inference profiles (the caller's)."
  type        = string
}

variable "model_ids" {
  description = "Model or inference-profile ids; empty allows every model (directly in the region, or through any profile of the account)."
  type        = list(string)
  default     = []
}
