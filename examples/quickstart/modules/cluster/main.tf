# A stand-in cluster placed in a network.
variable "name" {
  type = string
}

variable "network_id" {
  type = string
}

variable "node_count" {
  type    = number
  default = 1
  validation {
    condition     = var.node_count >= 1 && var.node_count <= 10
    error_message = "The node_count must be between 1 and 10."
  }
}

output "endpoint" {
  value = "https://${var.name}.${var.network_id}.example.internal"
}

output "node_count" {
  value = var.node_count
}
