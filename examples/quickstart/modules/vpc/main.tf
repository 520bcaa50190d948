variable "cidr_block" {
  type = string
}

output "network_id" {
  value = "net-${md5(var.cidr_block)}"
}
