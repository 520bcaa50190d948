variable "database" { type = string }
variable "replicas" { type = number }

output "summary" { value = "${var.replicas} replicas on ${var.database}" }
