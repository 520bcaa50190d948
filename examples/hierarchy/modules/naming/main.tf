variable "name" {
  type = string
}

variable "labels" {
  type = map(string)
}

output "full_name" {
  value = "${var.labels["team"]}-${var.name}"
}
