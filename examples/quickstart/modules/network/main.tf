# A stand-in network: variables in, a deterministic id out (no cloud provider needed).
variable "name" {
  type = string
}

variable "cidr_block" {
  type = string
  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "The cidr_block must be a CIDR range such as 10.0.0.0/16."
  }
}

variable "labels" {
  type    = map(string)
  default = {}
}

output "network_id" {
  value = "net-${substr(sha256("${var.name}/${var.cidr_block}"), 0, 12)}"
}

output "cidr_block" {
  value = var.cidr_block
}
