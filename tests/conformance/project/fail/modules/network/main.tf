# A network module: two variables in, two outputs out.
variable "name" {
  type = string
}

variable "cidr_block" {
  type = string
}

output "network_id" {
  value = "net-${var.name}"
}

output "cidr_block" {
  value = var.cidr_block
}
