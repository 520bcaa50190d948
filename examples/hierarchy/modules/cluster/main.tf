variable "name" {
  type = string
}

variable "node_count" {
  type = number
}

variable "machine_type" {
  type = string
}

variable "labels" {
  type = map(string)
}

variable "zones" {
  type = list(string)
}

output "summary" {
  value = "${var.name}: ${var.node_count} x ${var.machine_type} in ${join(",", var.zones)}"
}
