variable "name" {
  type = string
}

variable "network" {
  type = string
}

variable "node_count" {
  type    = number
  default = 1
}

output "cluster" {
  value = "${var.name} on ${var.network} with ${var.node_count} nodes"
}
