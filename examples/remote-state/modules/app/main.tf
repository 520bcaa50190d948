variable "name" {
  type = string
}

variable "zone_id" {
  type = string
}

# The same upstream value, read by Terraform itself from the upstream's state.
output "zone_from_state" {
  value = data.terraform_remote_state.dns.outputs.zone_id
}

output "fqdn" {
  value = "${var.name}.${var.zone_id}"
}
