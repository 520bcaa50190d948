# Stands in for a virtual machine: the outputs a real module would return once the machine
# exists (its address and the port the application will listen on). Offline and free.
variable "name" {
  type = string
}

variable "app_port" {
  type = number
}

output "name" {
  value = var.name
}

output "host" {
  value = "127.0.0.1"
}

output "app_port" {
  value = var.app_port
}
