variable "domain" {
  type = string
}

output "zone_id" {
  value = "zone-${substr(sha256(var.domain), 0, 10)}"
}

output "domain" {
  value = var.domain
}
