variable "name" {
  type = string
}

variable "node_count" {
  type = number
}

variable "machine_type" {
  type = string
}

variable "cpu_ratio" {
  type = number
}

variable "labels" {
  type = map(string)
}

variable "zones" {
  type = list(string)
}

variable "addons" {
  type = map(object({ version = string }))
}

# A sibling module, as most Terraform repositories lay them out: infra ships it with the
# component (under .infra-modules/) and re-plans the clusters when it changes.
module "naming" {
  source = "../naming"
  name   = var.name
  labels = var.labels
}

output "summary" {
  value = "${module.naming.full_name}: ${var.node_count} x ${var.machine_type} in ${join(",", var.zones)}"
}

output "cpu_ratio" {
  value = var.cpu_ratio
}

output "labels" {
  value = var.labels
}

output "addons" {
  value = sort(keys(var.addons))
}
