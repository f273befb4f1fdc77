output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets (one per AZ): tasks, the internal ALB and Aurora live here."
  value       = [for az in local.azs : aws_subnet.private[az].id]
}

output "public_subnet_ids" {
  description = "Public subnets (one per AZ); they hold only the NAT gateways."
  value       = [for az in local.azs : aws_subnet.public[az].id]
}

output "availability_zones" {
  description = "The AZs in use."
  value       = local.azs
}

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways: the source address of webhook deliveries and cross-region Bedrock calls."
  value       = [for e in aws_eip.nat : e.public_ip]
}

output "endpoint_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = aws_security_group.endpoints.id
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint (ECR image layers)."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "endpoint_subnet_ids" {
  description = "Subnets of each interface endpoint: those in the AZs its service supports."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.subnet_ids }
}
